# Suite "media" (protocol/media.c through the fake env; issue 5, item 4).
skysim_suite(media test_media.c LIBS skysim_fakeenv m)
