//! The scene and a small path tracer.
//!
//! A checkered ground plane under a sky gradient and a sun of finite size
//! (soft shadows); a matte red sphere, a mirror, a glass ball, a small
//! matte blue sphere and a warm lamp (an emissive sphere). Diffuse surfaces
//! sample the sun and the lamp directly (next-event estimation) and bounce
//! cosine-weighted; mirror and glass bounce specularly (the first glass
//! surfaces of a path split it into reflection and refraction). [`SAMPLES`] stratified
//! samples per pixel, paths of at most [`MAX_BOUNCES`] bounces, a clamp on each sample's brightness, ACES tone
//! mapping and sRGB-ish gamma.
//!
//! Each pixel depends only on the frame size and its own coordinates: its
//! random numbers come from a generator seeded with a hash of `(px, py)`,
//! so a frame renders the same however it is tiled. Only plain `f32`
//! arithmetic (and the software `libm` compiled into the module) is used,
//! and a sample that is not finite is dropped, so no NaN reaches a pixel.

use std::f32::consts::PI;
use std::ops::{Add, AddAssign, Mul, Neg, Sub};

/// Samples per pixel: a `SAMPLES_SIDE`×`SAMPLES_SIDE` jittered grid.
pub const SAMPLES_SIDE: u32 = 3;
/// Samples per pixel.
pub const SAMPLES: u32 = SAMPLES_SIDE * SAMPLES_SIDE;
/// Most surfaces a path bounces off after the camera ray's first hit.
pub const MAX_BOUNCES: u32 = 5;

/// Rays start this far along to leave the surface they start on.
const T_MIN: f32 = 1e-3;

#[derive(Clone, Copy, Debug, PartialEq)]
struct V(f32, f32, f32);

impl V {
    const ZERO: V = V(0.0, 0.0, 0.0);

    fn dot(self, o: V) -> f32 {
        self.0 * o.0 + self.1 * o.1 + self.2 * o.2
    }

    fn cross(self, o: V) -> V {
        V(
            self.1 * o.2 - self.2 * o.1,
            self.2 * o.0 - self.0 * o.2,
            self.0 * o.1 - self.1 * o.0,
        )
    }

    fn norm(self) -> V {
        let len = self.dot(self).sqrt();
        if len > 0.0 {
            self * (1.0 / len)
        } else {
            V(0.0, 1.0, 0.0)
        }
    }

    fn mix(self, o: V, t: f32) -> V {
        self * (1.0 - t) + o * t
    }

    fn is_finite(self) -> bool {
        self.0.is_finite() && self.1.is_finite() && self.2.is_finite()
    }
}

impl Add for V {
    type Output = V;
    fn add(self, o: V) -> V {
        V(self.0 + o.0, self.1 + o.1, self.2 + o.2)
    }
}

impl AddAssign for V {
    fn add_assign(&mut self, o: V) {
        *self = *self + o;
    }
}

impl Sub for V {
    type Output = V;
    fn sub(self, o: V) -> V {
        V(self.0 - o.0, self.1 - o.1, self.2 - o.2)
    }
}

impl Neg for V {
    type Output = V;
    fn neg(self) -> V {
        V(-self.0, -self.1, -self.2)
    }
}

impl Mul<f32> for V {
    type Output = V;
    fn mul(self, k: f32) -> V {
        V(self.0 * k, self.1 * k, self.2 * k)
    }
}

impl Mul for V {
    type Output = V;
    fn mul(self, o: V) -> V {
        V(self.0 * o.0, self.1 * o.1, self.2 * o.2)
    }
}

/// PCG-style 32-bit generator (the "PCG hash" step as the state update).
struct Rng(u32);

fn hash(x: u32) -> u32 {
    let state = x.wrapping_mul(747_796_405).wrapping_add(2_891_336_453);
    let word = ((state >> ((state >> 28) + 4)) ^ state).wrapping_mul(277_803_737);
    (word >> 22) ^ word
}

impl Rng {
    /// The generator of pixel `(px, py)`: nothing but the coordinates.
    fn for_pixel(px: u32, py: u32) -> Rng {
        Rng(hash(px ^ hash(py.wrapping_add(0x9e37_79b9))))
    }

    fn next_u32(&mut self) -> u32 {
        self.0 = hash(self.0);
        self.0
    }

    /// Uniform in [0, 1).
    fn f(&mut self) -> f32 {
        (self.next_u32() >> 8) as f32 * (1.0 / 16_777_216.0)
    }
}

#[derive(Clone, Copy)]
enum Material {
    Diffuse(V),
    Checker,
    Mirror(V),
    Glass(f32),
    Light(V),
}

struct Sphere {
    center: V,
    radius: f32,
    material: Material,
}

/// The lamp: the one emissive sphere, sampled directly.
const LAMP: usize = 4;
const LAMP_RADIANCE: V = V(14.0, 8.5, 3.5);

const SPHERES: [Sphere; 6] = [
    // matte red
    Sphere {
        center: V(-1.55, 0.7, -0.5),
        radius: 0.7,
        material: Material::Diffuse(V(0.75, 0.16, 0.12)),
    },
    // mirror
    Sphere {
        center: V(0.2, 1.0, -1.6),
        radius: 1.0,
        material: Material::Mirror(V(0.92, 0.93, 0.95)),
    },
    // glass
    Sphere {
        center: V(1.45, 0.55, 0.15),
        radius: 0.55,
        material: Material::Glass(1.5),
    },
    // small matte blue
    Sphere {
        center: V(-0.35, 0.32, 0.95),
        radius: 0.32,
        material: Material::Diffuse(V(0.12, 0.3, 0.7)),
    },
    // the lamp
    Sphere {
        center: V(0.55, 0.22, 1.25),
        radius: 0.22,
        material: Material::Light(LAMP_RADIANCE),
    },
    // matte yellow, far back
    Sphere {
        center: V(-3.2, 0.9, -4.2),
        radius: 0.9,
        material: Material::Diffuse(V(0.8, 0.62, 0.2)),
    },
];

/// Towards the sun (from the upper left, behind the camera's shoulder).
const SUN_DIR: V = V(-0.465_159, 0.697_738, 0.544_737);
/// Cosine of the sun's angular radius (about 3 degrees: soft shadows).
const SUN_COS: f32 = 0.9986;
/// Irradiance of the sun at normal incidence.
const SUN_IRRADIANCE: f32 = 3.2;

struct Ray {
    origin: V,
    dir: V,
}

impl Ray {
    fn at(&self, t: f32) -> V {
        self.origin + self.dir * t
    }
}

struct Hit {
    t: f32,
    point: V,
    /// Facing the incoming ray.
    normal: V,
    /// The ray came from outside.
    front: bool,
    material: Material,
    /// Which sphere (`None` for the ground).
    sphere: Option<usize>,
}

fn hit_sphere(s: &Sphere, ray: &Ray, t_max: f32) -> Option<f32> {
    let oc = ray.origin - s.center;
    let b = oc.dot(ray.dir);
    let c = oc.dot(oc) - s.radius * s.radius;
    let disc = b * b - c;
    if disc < 0.0 {
        return None;
    }
    let root = disc.sqrt();
    let near = -b - root;
    let t = if near > T_MIN { near } else { -b + root };
    (t > T_MIN && t < t_max).then_some(t)
}

fn hit_ground(ray: &Ray, t_max: f32) -> Option<f32> {
    if ray.dir.1 >= -1e-6 {
        return None;
    }
    let t = -ray.origin.1 / ray.dir.1;
    (t > T_MIN && t < t_max).then_some(t)
}

fn intersect(ray: &Ray) -> Option<Hit> {
    let mut best: Option<(f32, Option<usize>)> = hit_ground(ray, f32::MAX).map(|t| (t, None));
    for (i, s) in SPHERES.iter().enumerate() {
        let t_max = best.map_or(f32::MAX, |(t, _)| t);
        if let Some(t) = hit_sphere(s, ray, t_max) {
            best = Some((t, Some(i)));
        }
    }
    let (t, sphere) = best?;
    let point = ray.at(t);
    let (outward, material) = match sphere.and_then(|i| SPHERES.get(i)) {
        Some(s) => ((point - s.center) * (1.0 / s.radius), s.material),
        None => (V(0.0, 1.0, 0.0), Material::Checker),
    };
    let front = ray.dir.dot(outward) < 0.0;
    let normal = if front { outward } else { -outward };
    Some(Hit {
        t,
        point,
        normal,
        front,
        material,
        sphere,
    })
}

/// How much light passes from `origin` along `dir` up to `t_max`: 0 behind
/// an opaque surface, a fraction through glass (a cheap stand-in for
/// caustics), 1 in the clear.
fn transmittance(origin: V, dir: V, t_max: f32) -> f32 {
    let mut ray = Ray { origin, dir };
    let mut left = t_max;
    let mut through = 1.0;
    for _ in 0..4 {
        let Some(hit) = intersect(&ray) else {
            return through;
        };
        if hit.t >= left {
            return through;
        }
        match hit.material {
            Material::Glass(_) => {
                through *= 0.8;
                left -= hit.t;
                ray.origin = hit.point;
            }
            _ => return 0.0,
        }
    }
    through
}

/// An orthonormal basis around unit `n` (Duff et al. 2017).
fn basis(n: V) -> (V, V) {
    let sign = 1.0f32.copysign(n.2);
    let a = -1.0 / (sign + n.2);
    let b = n.0 * n.1 * a;
    (
        V(1.0 + sign * n.0 * n.0 * a, sign * b, -sign * n.0),
        V(b, sign + n.1 * n.1 * a, -n.1),
    )
}

/// A direction in the cone of half-angle `acos(cos_max)` around unit `axis`,
/// uniformly over its solid angle.
fn sample_cone(axis: V, cos_max: f32, rng: &mut Rng) -> V {
    let cos_t = 1.0 - rng.f() * (1.0 - cos_max);
    let sin_t = (1.0 - cos_t * cos_t).max(0.0).sqrt();
    let (s, c) = (2.0 * PI * rng.f()).sin_cos();
    let (u, v) = basis(axis);
    (u * (c * sin_t) + v * (s * sin_t) + axis * cos_t).norm()
}

/// A cosine-weighted direction around unit `n`.
fn sample_cosine(n: V, rng: &mut Rng) -> V {
    let r1 = rng.f();
    let r = r1.sqrt();
    let (s, c) = (2.0 * PI * rng.f()).sin_cos();
    let (u, v) = basis(n);
    (u * (c * r) + v * (s * r) + n * (1.0 - r1).max(0.0).sqrt()).norm()
}

fn reflect(d: V, n: V) -> V {
    d - n * (2.0 * d.dot(n))
}

/// The sky (without the sun's disc) in direction `d`.
fn sky(d: V) -> V {
    let up = d.1.max(0.0);
    let horizon = V(0.88, 0.9, 0.92);
    let zenith = V(0.2, 0.4, 0.88);
    horizon.mix(zenith, up.sqrt()) * 0.7
}

/// Radiance of the sun's disc, so that it gives [`SUN_IRRADIANCE`].
fn sun_radiance() -> f32 {
    SUN_IRRADIANCE / (2.0 * PI * (1.0 - SUN_COS))
}

/// The ground's checkers, fading to their average far away.
fn checker(p: V) -> V {
    let light = V(0.78, 0.78, 0.74);
    let dark = V(0.22, 0.24, 0.27);
    let parity = ((p.0.floor() as i64) + (p.2.floor() as i64)) & 1;
    let near = if parity == 0 { light } else { dark };
    let fade = 1.0 / (1.0 + 0.004 * (p.0 * p.0 + p.2 * p.2));
    (light + dark).mix(near * 2.0, fade) * 0.5
}

/// Light reaching a diffuse point `p` with normal `n` straight from the sun
/// and the lamp (next-event estimation), before the albedo.
fn direct(p: V, n: V, rng: &mut Rng) -> V {
    let mut sum = V::ZERO;
    // The sun: a direction within its disc.
    let l = sample_cone(SUN_DIR, SUN_COS, rng);
    let cos = n.dot(l);
    if cos > 0.0 {
        let through = transmittance(p, l, f32::MAX);
        sum += V(1.0, 0.97, 0.9) * (SUN_IRRADIANCE / PI * cos * through);
    }
    // The lamp: a direction within the cone it subtends.
    let lamp = &SPHERES[LAMP];
    let to = lamp.center - p;
    let d2 = to.dot(to);
    let r2 = lamp.radius * lamp.radius;
    if d2 > r2 {
        let cos_max = (1.0 - r2 / d2).max(0.0).sqrt();
        let l = sample_cone(to.norm(), cos_max, rng);
        let cos = n.dot(l);
        if cos > 0.0 {
            let ray = Ray { origin: p, dir: l };
            if let Some(hit) = intersect(&ray) {
                if hit.sphere == Some(LAMP) {
                    let solid_angle = 2.0 * PI * (1.0 - cos_max);
                    sum += LAMP_RADIANCE * (cos * solid_angle / PI);
                }
            }
        }
    }
    sum
}

/// Glass surfaces a path may split at (into its reflection and its
/// refraction, each weighted by the Fresnel term) before it picks one of
/// the two at random: without the splits the pick is speckle at this
/// sample count.
const GLASS_SPLITS: u32 = 2;

/// Where a path is: its ray, what it carries and how far it may go.
struct Path {
    ray: Ray,
    /// What the light arriving along `ray` is multiplied by.
    weight: V,
    /// Bounces left.
    bounces: u32,
    /// Glass splits left.
    splits: u32,
    /// Camera rays and their mirror and glass bounces see the sun's disc
    /// and the lamp; after a diffuse bounce `direct` counted them (and
    /// caustics, a diffuse surface lit through glass or a mirror, are left
    /// out: they would be fireflies at this sample count).
    specular: bool,
}

/// Radiance arriving along `ray`.
fn radiance(ray: Ray, rng: &mut Rng) -> V {
    trace(
        Path {
            ray,
            weight: V(1.0, 1.0, 1.0),
            bounces: MAX_BOUNCES,
            splits: GLASS_SPLITS,
            specular: true,
        },
        rng,
    )
}

/// The light `path` brings back, weighted.
fn trace(mut path: Path, rng: &mut Rng) -> V {
    let mut sum = V::ZERO;
    loop {
        let Some(hit) = intersect(&path.ray) else {
            sum += path.weight * sky(path.ray.dir);
            if path.specular && path.ray.dir.dot(SUN_DIR) >= SUN_COS {
                sum += path.weight * sun_radiance();
            }
            return sum;
        };
        if path.bounces == 0 {
            return sum;
        }
        path.bounces -= 1;
        let albedo = match hit.material {
            Material::Light(emitted) => {
                if path.specular {
                    sum += path.weight * emitted;
                }
                return sum;
            }
            Material::Mirror(tint) => {
                path.weight = path.weight * tint;
                path.ray = Ray {
                    origin: hit.point,
                    dir: reflect(path.ray.dir, hit.normal),
                };
                continue;
            }
            Material::Glass(ior) => {
                let reflected = reflect(path.ray.dir, hit.normal);
                let dir = match refract(path.ray.dir, hit.normal, hit.front, ior) {
                    None => reflected,
                    Some((refracted, fresnel)) if path.splits > 0 => {
                        path.splits -= 1;
                        let mirror = Path {
                            ray: Ray {
                                origin: hit.point,
                                dir: reflected,
                            },
                            weight: path.weight * fresnel,
                            ..path
                        };
                        sum += trace(mirror, rng);
                        path.weight = path.weight * (1.0 - fresnel);
                        refracted
                    }
                    Some((_, fresnel)) if rng.f() < fresnel => reflected,
                    Some((refracted, _)) => refracted,
                };
                path.ray = Ray {
                    origin: hit.point,
                    dir,
                };
                continue;
            }
            Material::Diffuse(albedo) => albedo,
            Material::Checker => checker(hit.point),
        };
        sum += path.weight * albedo * direct(hit.point, hit.normal, rng);
        path.weight = path.weight * albedo;
        path.ray = Ray {
            origin: hit.point,
            dir: sample_cosine(hit.normal, rng),
        };
        path.specular = false;
    }
}

/// Into glass of index `ior` (or out of it, `front` false): the refracted
/// direction and the share of light reflected instead (Schlick's Fresnel
/// term), or `None` for total internal reflection.
fn refract(d: V, n: V, front: bool, ior: f32) -> Option<(V, f32)> {
    let eta = if front { 1.0 / ior } else { ior };
    let cos_i = (-d.dot(n)).min(1.0);
    let sin2_t = eta * eta * (1.0 - cos_i * cos_i);
    if sin2_t > 1.0 {
        return None;
    }
    let r0 = ((1.0 - ior) / (1.0 + ior)) * ((1.0 - ior) / (1.0 + ior));
    let m = 1.0 - cos_i;
    let fresnel = r0 + (1.0 - r0) * m * m * m * m * m;
    let refracted = (d * eta + n * (eta * cos_i - (1.0 - sin2_t).max(0.0).sqrt())).norm();
    Some((refracted, fresnel))
}

/// ACES filmic curve (Narkowicz's fit).
fn aces(x: f32) -> f32 {
    ((x * (2.51 * x + 0.03)) / (x * (2.43 * x + 0.59) + 0.14)).clamp(0.0, 1.0)
}

fn to_byte(linear: f32) -> u8 {
    let v = aces(linear.max(0.0)).powf(1.0 / 2.2);
    // `v` is in [0, 1]: the cast cannot saturate.
    (v * 255.0 + 0.5) as u8
}

/// The camera of a `width`×`height` frame.
struct Camera {
    origin: V,
    /// The top-left corner of the image plane at distance 1.
    corner: V,
    /// Across one pixel, rightwards.
    right: V,
    /// Down one pixel.
    down: V,
}

impl Camera {
    fn new(width: u32, height: u32) -> Camera {
        let origin = V(0.0, 1.35, 5.4);
        let target = V(-0.1, 0.6, -0.4);
        let forward = (target - origin).norm();
        let right = forward.cross(V(0.0, 1.0, 0.0)).norm();
        let up = right.cross(forward);
        let half_h = (38.0f32.to_radians() / 2.0).tan();
        let aspect = width as f32 / height as f32;
        let half_w = half_h * aspect;
        Camera {
            origin,
            corner: forward + up * half_h - right * half_w,
            right: right * (2.0 * half_w / width as f32),
            down: -up * (2.0 * half_h / height as f32),
        }
    }

    fn ray(&self, x: f32, y: f32) -> Ray {
        Ray {
            origin: self.origin,
            dir: (self.corner + self.right * x + self.down * y).norm(),
        }
    }
}

/// The brightest a sample may be (its hue kept): the sun's disc seen
/// through glass would otherwise leave fireflies.
const SAMPLE_MAX: f32 = 10.0;

fn clamp(c: V) -> V {
    let max = c.0.max(c.1).max(c.2);
    if max > SAMPLE_MAX {
        c * (SAMPLE_MAX / max)
    } else {
        c
    }
}

/// The RGB8 bytes of pixel `(px, py)` of a `width`×`height` frame.
fn pixel(camera: &Camera, px: u32, py: u32) -> [u8; 3] {
    let mut rng = Rng::for_pixel(px, py);
    let mut sum = V::ZERO;
    let cell = 1.0 / SAMPLES_SIDE as f32;
    for sy in 0..SAMPLES_SIDE {
        for sx in 0..SAMPLES_SIDE {
            let x = px as f32 + (sx as f32 + rng.f()) * cell;
            let y = py as f32 + (sy as f32 + rng.f()) * cell;
            let sample = radiance(camera.ray(x, y), &mut rng);
            if sample.is_finite() {
                sum += clamp(sample);
            }
        }
    }
    let c = sum * (1.0 / SAMPLES as f32);
    [to_byte(c.0), to_byte(c.1), to_byte(c.2)]
}

/// Renders the `w`×`h` rectangle at `(x, y)` of a `width`×`height` frame:
/// RGB8, row-major, top row first.
pub fn render(width: u32, height: u32, x: u32, y: u32, w: u32, h: u32) -> Vec<u8> {
    let camera = Camera::new(width, height);
    let mut out = Vec::with_capacity(w as usize * h as usize * 3);
    for py in y..y + h {
        for px in x..x + w {
            out.extend_from_slice(&pixel(&camera, px, py));
        }
    }
    out
}
