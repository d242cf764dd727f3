"""The routers a host app mounts: issues, labels and comments, on one shared kernel."""
