"""Voice: speech in (Whisper), speech out (espeak-ng), and the audio between them."""
