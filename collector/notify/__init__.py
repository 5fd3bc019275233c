"""Messages to people: the daily digest."""
