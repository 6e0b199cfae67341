"""Small helpers shared across snnsec: atomic files, progress bars, fractions, seeding."""
