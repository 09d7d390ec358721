/* For the targets of coopbill-verify's parsers: the program's own source,
 * built in with its main() renamed, so that the functions a target calls are
 * those the member runs, static as they are. */
#pragma once

int coopbill_verify_main(int argc, char **argv);

#define main coopbill_verify_main
#include "../../src/coopbill-verify.c"
#undef main
