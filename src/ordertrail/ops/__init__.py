"""Operations that hold orders (stock, production, purchasing, billing): what they share.

``triggers`` fires flow triggers from a domain's own transaction (edge: "payment received,
now fully paid"); ``automation`` holds the stage actions a flow names in ``on_enter`` and the
state checks that fire a trigger when an order enters a stage whose condition already holds
(level: an order reaching "invoiced" after it was already paid moves on at once).
"""
