# Suite "media" (protocol/media.c through the fake env).
skysim_suite(media test_media.c LIBS skysim_fakeenv m)
