"""The embedded AWS services behind the edge (moto): S3 kept on disk, their errors, IAM."""
