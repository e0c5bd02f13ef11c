"""Plumbing any room may use: durable files, scratch folders, serial work, children, clients."""
