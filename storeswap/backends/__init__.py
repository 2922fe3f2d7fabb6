"""Finding or starting real servers: a URL from the environment, a testcontainer, or an embedded default."""
