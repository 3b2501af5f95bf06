"""After deploy: is production still like what the model learned, and has its quality held?"""
