/* keeps cc_testsupport non-empty before any support file exists */
int cc_testsupport_dummy;
