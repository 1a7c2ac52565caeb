"""Texts, emails (GOV.UK Notify) and Web Push to families and practitioners, privately."""
