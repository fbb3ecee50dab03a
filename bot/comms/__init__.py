"""Vendor-to-customer communications, announced to partners before customers get them."""
