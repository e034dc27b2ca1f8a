"""Speed figures of ordertrail (``ordertrail bench``), each against a baseline from the same run.

Modules: ``common`` (figures, databases, the server subprocess), ``loadgen`` (a keep-alive HTTP
load generator), ``create`` (orders created through the service), ``transitions`` (transitions
over HTTP), ``dataset`` (bulk load of many orders), ``reads`` (read latency and query plans) and
``run`` (the command's entry point).
"""
