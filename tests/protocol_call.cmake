# Suite "call" (protocol/call.c, relay.c through the fake env).
skysim_suite(call test_call.c LIBS skysim_fakeenv)
