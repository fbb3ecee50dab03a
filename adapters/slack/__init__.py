"""Slack adapter: partners ask in channels, DMs and threads; admins re-index with /partner."""

from __future__ import annotations

from adapters.slack.app import EVENTS_PATH, SlackAdapter, SlackConfig, SlackService, build_slack

__all__ = ["EVENTS_PATH", "SlackAdapter", "SlackConfig", "SlackService", "build_slack"]
