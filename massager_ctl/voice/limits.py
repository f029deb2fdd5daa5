"""The speech engine's settings that the command line offers (no imports: read at start-up)."""

#: espeak-ng's own limits for the speaking rate, in words per minute.
MIN_RATE, MAX_RATE = 80, 450
DEFAULT_RATE = 160
#: US English: also what the offline recogniser the tests use was trained on.
DEFAULT_VOICE = "en-us"
