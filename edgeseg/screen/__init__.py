"""Screening on camera frames: the frame contract (crop, resize, normalise, map back), the
screening hints, and the latest-frame-wins camera loop. The Android app and the web page port
``frame`` and ``hints`` line by line and check themselves against the golden vectors."""
