"""Choreoscope collector: taps, envelope decoding, correlation, flow tracking, the store."""
