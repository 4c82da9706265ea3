package daemon

import "os"

var lookupEnv = os.LookupEnv
