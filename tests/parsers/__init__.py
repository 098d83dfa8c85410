"""Tests of parsers/: the EVTX decoder against its oracle, the loaders, hostile and damaged inputs, fuzzing."""
