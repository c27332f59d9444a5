/* A library the missing_library fixture links against; absent from its run path. */
int ticketd_fixture_dependency(void);
int ticketd_fixture_dependency(void) { return 1; }
