"""eventcompress.cache"""
