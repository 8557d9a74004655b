"""Choreoscope dashboard: a read-only Streamlit app over the store."""
