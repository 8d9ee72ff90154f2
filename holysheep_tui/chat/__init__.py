"""A chat session and its turns: opening a session, the conversation controller, stored conversations resumed, batch runs."""
