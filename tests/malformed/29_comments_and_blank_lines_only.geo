# Nothing but comments here.

   
# model M() { symmetry trivial }
	
