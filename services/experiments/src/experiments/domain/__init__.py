"""Domain logic of the experiments service, free of Flask and the database."""
