"""eventcompress.train"""
