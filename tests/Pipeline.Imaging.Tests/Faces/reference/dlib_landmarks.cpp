// Reference for ShapePredictorTests: dlib's own shape_predictor on a binary PPM with a given box.
// Built by the test with: g++ -O1 -std=c++14 dlib_landmarks.cpp -o dlib_landmarks -ldlib -l:libblas.so.3 -l:liblapack.so.3
// (headers from Debian libdlib-dev; the versioned BLAS/LAPACK come with libdlib19.1, no -dev packages needed).
// Usage: dlib_landmarks MODEL.dat IMAGE.ppm LEFT TOP RIGHT BOTTOM   -> 68 lines "x y"
#include <dlib/image_processing.h>
#include <dlib/array2d.h>
#include <dlib/pixel.h>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <string>

static bool read_ppm(const char* path, dlib::array2d<dlib::rgb_pixel>& img)
{
    std::ifstream in(path, std::ios::binary);
    std::string magic;
    long w, h, maxv;
    if (!(in >> magic >> w >> h >> maxv) || magic != "P6" || maxv != 255) return false;
    in.get();
    img.set_size(h, w);
    for (long y = 0; y < h; ++y)
        for (long x = 0; x < w; ++x)
        {
            unsigned char px[3];
            if (!in.read(reinterpret_cast<char*>(px), 3)) return false;
            img[y][x] = dlib::rgb_pixel(px[0], px[1], px[2]);
        }
    return true;
}

int main(int argc, char** argv)
{
    if (argc != 7) { std::cerr << "usage: dlib_landmarks MODEL IMAGE.ppm L T R B\n"; return 2; }
    dlib::shape_predictor sp;
    dlib::deserialize(argv[1]) >> sp;
    dlib::array2d<dlib::rgb_pixel> img;
    if (!read_ppm(argv[2], img)) { std::cerr << "bad ppm\n"; return 3; }
    dlib::rectangle box(std::atol(argv[3]), std::atol(argv[4]), std::atol(argv[5]), std::atol(argv[6]));
    dlib::full_object_detection shape = sp(img, box);
    for (unsigned long i = 0; i < shape.num_parts(); ++i)
        std::printf("%ld %ld\n", shape.part(i).x(), shape.part(i).y());
    return 0;
}
