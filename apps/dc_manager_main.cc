#include "manager/service.h"

int main(int argc, char** argv) { return dc::manager_main(argc, argv); }
