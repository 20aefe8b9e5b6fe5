"""The service layer: what ties a report to its message.

Submit, cancel and retry (`jobs`), where a report's message is (`whereabouts`), dead letters and bulk jobs,
recovery (`sweeper`: stall sweep and orphan reconcile), retention, and the scheduler process that runs them.
It calls `state` (rows, the lifecycle) and `queues` (Redis), and sends messages by actor name
(`messaging`): it never imports the worker.
"""
