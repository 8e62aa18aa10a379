/* SwiftPM needs a source file in every C target; the ABI is header-only. */
#include "CEbguardABI.h"
