"""Authentication (who is calling) at the edge, and permissions (what they may do) in the services."""
