model M() {
	symmetry trivial
	y =	linear(h	8 x scalar)
}
