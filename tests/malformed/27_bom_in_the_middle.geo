model M() {
    symmetry trivial
    x = ﻿1
}
