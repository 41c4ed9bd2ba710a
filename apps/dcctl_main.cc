#include "cli/dcctl.h"

int main(int argc, char** argv) { return dc::dcctl_main(argc, argv); }
