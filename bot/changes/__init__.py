"""Program changes detected on re-index, and the digests that tell partners about them."""
