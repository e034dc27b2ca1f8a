"""Invoices, payments, receivable aging and overdue payments."""
