"""Data stage: raw recordings, transcripts and movies -> events, electrodes, responses."""
