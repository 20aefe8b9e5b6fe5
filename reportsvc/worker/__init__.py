"""The worker side: the Dramatiq broker and its middleware, the actors, and the data sources report types
read. `reportsvc.tasks` is the entry point that wires them (`dramatiq reportsvc.tasks`)."""
