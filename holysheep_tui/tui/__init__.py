"""Full-screen Textual front end."""
