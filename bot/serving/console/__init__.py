"""The vendor's console: pages (under /console) and an API (under /api) on `partnerbot
serve`'s web server, behind sign-in. web.py builds the applications; auth.py signs people
in; editing.py changes communications; pages.py and api.py answer requests; templates/
render what people see (autoescaped)."""
