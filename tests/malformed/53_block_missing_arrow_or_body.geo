block layer(h: 16 x scalar) 16 x scalar {
    return h
}
