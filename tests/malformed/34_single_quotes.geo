import 'stdlib/egnn.geo'
