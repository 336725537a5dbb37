"""eventcompress.data"""
