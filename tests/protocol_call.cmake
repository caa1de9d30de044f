# Suite "call" (protocol/call.c, relay.c through the fake env; issue 5, items 3, 6, 7).
skysim_suite(call test_call.c LIBS skysim_fakeenv)
