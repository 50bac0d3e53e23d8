"""Streamlit-side helpers of the bngan app (the only part of bngan that imports streamlit)."""
