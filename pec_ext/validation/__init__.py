"""Checks that run before anything is sent: fields, request bodies, identifiers, disk space."""
