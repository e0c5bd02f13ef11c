"""The wire: the edge's HTTP server, who may call it, and the AWS protocols in and out."""
