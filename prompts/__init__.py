"""Prompt and message templates, as files, rendered by `bot.prompts.render`."""
