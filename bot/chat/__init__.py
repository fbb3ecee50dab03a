"""The conversation: the chat service every platform hands its events to (service.py),
who reads a place (audiences.py) and the admin check (admin.py)."""
